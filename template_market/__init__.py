"""The template marketplace: ledger definitions that one city publishes and another installs."""
