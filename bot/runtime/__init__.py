"""Platform-neutral chat runtime: events, replies, dispatcher, middlewares."""
