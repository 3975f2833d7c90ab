"""The pure core: protocol vocabulary, frames and ids, the event handler, the conversation
state machine, session payloads and the GA/beta session map, the knowledge base, value
checks, credential redaction and the exception tree.

Nothing here imports websockets, traitlets, ipywidgets or anywidget, or touches a socket.
"""
