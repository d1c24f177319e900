"""
The HTTP layer, in the order a request goes through it.

- `settings.py`: timeout, retries and the key, from arguments or the environment, checked.
- `body.py`: request bodies and their JSON encoding.
- `client.py`: `JinaClient`, its lifecycle (open, close, fork, pickle) and the retry loop.
- `transport.py`: what moves the bytes (`aiohttp`, or a `MockTransport` in tests).
- `answer.py`: an answer read once: its JSON, its rate-limit signals, the error it maps to, the key redacted.
"""
