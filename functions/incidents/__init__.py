"""The incident domain: the record, its id, the signals that open it, severity and storage."""
