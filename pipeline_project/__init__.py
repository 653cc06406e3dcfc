"""Daily batch pipeline: raw files under raw-data/YYYY-MM-DD/ become reports/YYYY-MM-DD.json."""
