"""The designated bank: its wire format, the port the center talks through, its HTTP adapter,
and the simulator that `exchange bank-sim` runs."""
