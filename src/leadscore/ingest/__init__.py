"""Landing files -> bronze -> silver (plus quarantine and duplicates), in one streaming query, exactly once."""
