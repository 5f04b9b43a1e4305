"""The ledger engine: user-defined ledgers, records and their generations (世代)."""
