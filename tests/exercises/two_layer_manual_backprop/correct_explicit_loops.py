# expect-lost:
"""Correct: explicit Python loops over every index (fine for tiny sizes), plain float arithmetic."""
import torch


def two_layer_grads(x, w1, w2, y):
    n, d_in = x.shape
    hidden, d_out = w2.shape
    X, W1, W2, Y = x.tolist(), w1.tolist(), w2.tolist(), y.tolist()
    h = [[sum(X[i][k] * W1[k][j] for k in range(d_in)) for j in range(hidden)] for i in range(n)]
    h_relu = [[max(v, 0.0) for v in row] for row in h]
    y_pred = [[sum(h_relu[i][j] * W2[j][o] for j in range(hidden)) for o in range(d_out)]
              for i in range(n)]
    loss = sum((y_pred[i][o] - Y[i][o]) ** 2 for i in range(n) for o in range(d_out))
    g_y = [[2.0 * (y_pred[i][o] - Y[i][o]) for o in range(d_out)] for i in range(n)]
    g_w2 = [[sum(h_relu[i][j] * g_y[i][o] for i in range(n)) for o in range(d_out)]
            for j in range(hidden)]
    g_h = [[sum(g_y[i][o] * W2[j][o] for o in range(d_out)) if h[i][j] >= 0 else 0.0
            for j in range(hidden)] for i in range(n)]
    g_w1 = [[sum(X[i][k] * g_h[i][j] for i in range(n)) for j in range(hidden)]
            for k in range(d_in)]
    return loss, torch.tensor(g_w1, dtype=torch.float32), torch.tensor(g_w2, dtype=torch.float32)
