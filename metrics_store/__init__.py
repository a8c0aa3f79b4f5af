"""Time-series storage: the sample model, the store Protocols and their implementations."""
