//! Scene files: the JSON contract between the app, the CLI, the tests and saved sessions.
