"""Order entry: one writer per book, group commit, recovery from snapshot plus journal."""
