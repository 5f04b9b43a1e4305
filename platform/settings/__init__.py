"""Settings: `base` reads the environment once; `local`, `test` and `production` override."""
