#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The tutorial's algorithm in numpy, written for mlpcl's tests: the same operations in the same
order as ../shared/tutorial/tutorial.py (2 inputs, 3 sigmoid hidden units, 2 sigmoid outputs,
every weight and bias 1.0, cost 1/(2m)·Σ(out − Y)², full-batch gradient descent while the cost
is not below the target), but on data read from CSV files instead of drawn at random, with the
step and target as parameters, and with the input and output widths taken from the data.

    tutorial_numpy.py X.csv Y.csv [--lr 0.01] [--target 0.1] [--hidden 3]

prints what the tutorial prints: start, cost every 100 iterations, end and cnt, with costs in
full (repr) precision."""
import argparse
import sys

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def derivative_sigmoid(x):
    return np.multiply(1 - sigmoid(x), sigmoid(x))


def train(X, Y, step=0.01, target=0.1, hidden=3, max_iter=10**7, on_cost=None):
    """Runs the tutorial's loop. Returns (costs, cnt): costs[k] is the cost after k updates,
    cnt the number of updates done when the cost fell below target (or max_iter)."""
    m = X.shape[0]

    def cost_function(yo, Y):
        return 1. / (2 * m) * np.sum(np.square(np.subtract(yo, Y)))

    W2 = np.ones((X.shape[1], hidden))
    b2 = np.ones((1, hidden))
    in2 = np.dot(X, W2) + b2
    out2 = sigmoid(in2)
    W3 = np.ones((hidden, Y.shape[1]))
    b3 = np.ones((1, Y.shape[1]))
    in3 = np.dot(out2, W3) + b3
    out3 = sigmoid(in3)
    cost = cost_function(out3, Y)
    costs = [cost]
    cnt = 0
    while not cost < target and cnt < max_iter:
        derivative_c_out3 = np.subtract(out3, Y) / m
        derivative_out3_in3 = derivative_sigmoid(in3)
        derivative_c_in3 = np.multiply(derivative_c_out3, derivative_out3_in3)
        dw3 = np.dot(out2.T, derivative_c_in3)
        db3 = np.sum(derivative_c_in3, axis=0)
        derivative_out2_in2 = derivative_sigmoid(in2)
        derivative_c_in2 = np.multiply(np.dot(derivative_c_in3, W3.T), derivative_out2_in2)
        dw2 = np.dot(X.T, derivative_c_in2)
        db2 = np.sum(derivative_c_in2, axis=0)
        W3 = W3 - step * dw3
        W2 = W2 - step * dw2
        b3 = b3 - step * db3
        b2 = b2 - step * db2
        in2 = np.dot(X, W2) + b2
        out2 = sigmoid(in2)
        in3 = np.dot(out2, W3) + b3
        out3 = sigmoid(in3)
        cost = cost_function(out3, Y)
        costs.append(cost)
        cnt += 1
    return costs, cnt


def read_csv(path):
    """A CSV of numbers with an optional header row, as mlpcl reads it."""
    with open(path) as f:
        rows = [line for line in f.read().splitlines() if line.strip()]
    try:
        float(rows[0].split(",")[0])
    except ValueError:
        rows = rows[1:]
    return np.array([[float(v) for v in r.split(",")] for r in rows], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("x")
    ap.add_argument("y")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--target", type=float, default=0.1)
    ap.add_argument("--hidden", type=int, default=3)
    a = ap.parse_args()
    costs, cnt = train(read_csv(a.x), read_csv(a.y), a.lr, a.target, a.hidden)
    print("start:", repr(float(costs[0])))
    for k in range(1, cnt + 1):
        if (k - 1) % 100 == 0:
            print("cost:", repr(float(costs[k])))
    print("end:", repr(float(costs[cnt])))
    print("cnt:", cnt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
