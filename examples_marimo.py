import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo

    mo.md(
        """
        # realtime_widget in marimo

        With no key configured, this notebook starts a **local realtime server**
        (deterministic, no network); with `OPENAI_API_KEY` set, it talks to the OpenAI
        Realtime API. Click **Connect**, then the **mic** button, and talk: the page captures
        your voice and plays the answer, while the notebook's Python runs the client and the
        tools defined below.
        """
    )
    return (mo,)


@app.cell
def _():
    from realtime_widget import RealtimeWidget
    from realtime_widget.demo import default_url

    url = default_url()
    print("talking to", url or "the OpenAI Realtime API")
    return RealtimeWidget, url


@app.cell
def _(RealtimeWidget, mo, url):
    widget = RealtimeWidget(
        url=url,
        instructions="You are a friendly assistant in a notebook. Keep answers short.",
        voice="marin",
    )
    view = mo.ui.anywidget(widget)
    view
    return (widget,)


@app.cell
def _(widget):
    import ast
    import operator

    _OPERATORS = {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
        ast.USub: operator.neg,
    }

    def _evaluate(node):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](_evaluate(node.operand))
        raise ValueError(f"not arithmetic: {ast.unparse(node)!r}")

    @widget.tool
    def calculate(expression: str) -> float:
        """Evaluate an arithmetic expression such as "2 * (3 + 4)".

        Args:
            expression: The expression, with numbers, + - * / and parentheses.
        """
        return _evaluate(ast.parse(expression, mode="eval").body)

    calculate("2 * (3 + 4)")
    return


@app.cell
def _(mo):
    mo.md(
        """
        Ask "calculate two plus three" by voice, or type it into the widget's text box: the
        model calls `calculate` in this notebook's Python and speaks the result. Re-running
        the tool's cell replaces the tool in the live session.
        """
    )
    return


if __name__ == "__main__":
    app.run()
