"""What every streaming query shares: commit tags (exactly once), the one-writer lock, triggers and progress."""
