"""Field types: the plug-in registry that validates and normalises record values."""
