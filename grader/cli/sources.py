"""``grader sources add|rotate|list``: the platforms that send submissions by webhook."""
