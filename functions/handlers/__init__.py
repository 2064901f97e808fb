"""Lambda entry points, one module per step: `handlers.<step>.lambda_handler`."""
