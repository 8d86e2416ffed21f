"""The read pipeline: store -> metadata documents -> node index -> builders, datasets staying lazy."""
