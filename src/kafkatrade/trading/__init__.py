"""Pure trading logic: quotes in, orders out. No Kafka, no database: testable on its own."""
