"""gRPC intake service: creates plants from photos and serves them back."""
