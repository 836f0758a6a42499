"""The fragments microservice: user-owned text and image fragments over HTTP."""
