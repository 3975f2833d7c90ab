"""Tools from Python functions, pure: schemas from signatures and docstrings, argument
checks, running with a timeout and bounded results.
"""

from realtime_widget.tools.registry import Tool, ToolRegistry, ToolResult, tool

__all__ = ["Tool", "ToolRegistry", "ToolResult", "tool"]
