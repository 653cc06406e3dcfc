"""Pure core: parsing, validation, aggregation and report building. No Dagster, no boto3."""
