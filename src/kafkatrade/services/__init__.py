"""The three microservices, each a thin loop over pure logic and the shared Kafka plumbing."""
