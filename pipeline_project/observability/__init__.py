"""What the pipeline tells operators: CloudWatch EMF metric lines and structured JSON logs."""
