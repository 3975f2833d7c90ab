"""The pure core: protocol vocabulary, the event handler, the conversation state machine,
session payloads, the knowledge base, credential redaction and the exception tree.

Nothing here imports websockets, traitlets, ipywidgets or anywidget, or touches a socket.
"""
