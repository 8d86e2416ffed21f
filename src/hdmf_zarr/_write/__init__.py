"""The write pipeline: builders -> WritePlan (plan) -> store (commit), with the writers it picks per kind of data."""
