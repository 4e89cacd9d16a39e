"""The designated bank's simulator (`exchange bank-sim`): the bank's state as pure logic
(`state`), its fault plan (`faults`), the HTTP API (`app`), signed notifications to the center
(`notifier`), and the process around them (`run`)."""
