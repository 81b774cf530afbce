"""AI worker: identifies queued plants with Gemini and stores their care profile."""
