#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Mini-batch training of a regression MLP written independently of mlpcl, in numpy (and in
PyTorch where it can be imported), to compare mlpcl's held-out loss with: the same network,
initial weights, sample order, optimiser, step, batch and epochs.

What it reproduces of mlpcl, from its documented rules rather than its code paths:
- the initialisation: splitmix64 seeded with --seed, uniform weights ±√(6/(n_in + n_out))
  (Xavier; He's ±√(6/n_in) for relu layers), drawn layer by layer in mlpcl's [in, out] order,
  zero biases;
- the epoch's order: a Fisher–Yates shuffle from splitmix64 seeded with
  seed ^ (0x9e3779b97f4a7c15·(epoch + 1)) (host/rng.c), batches taken in that order, the last
  one smaller;
- --validation F: the last ⌊F·m⌋ rows held out, unshuffled;
- the loss 1/(2b)·Σ(out − y)² of each batch, its gradient by backpropagation;
- Adam as PyTorch's torch.optim.Adam (bias corrections, ε outside the square root), SGD with
  momentum as torch.optim.SGD; the cosine schedule as CosineAnnealingLR stepped once an epoch.

usage: regression_numpy.py CSV [--layers 2,32,1] [--activation tanh] [--optimizer adam]
       [--lr 0.01] [--batch 32] [--epochs 20] [--validation 0.25] [--seed 1] [--torch]
prints one line an epoch: epoch, training loss (mean of the batches' losses before their
updates), held-out loss, all to 17 digits."""
import argparse
import math
import sys

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9e3779b97f4a7c15


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + GOLDEN) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53


def shuffle(n, seed, epoch):
    rng = SplitMix64(seed ^ ((GOLDEN * (epoch + 1)) & MASK))
    perm = list(range(n))
    for i in range(n, 1, -1):
        j = rng.next() % i
        perm[i - 1], perm[j] = perm[j], perm[i - 1]
    return perm


def init(widths, acts, seed):
    """[(W [in, out], b)] as mlpcl's --init uniform draws them."""
    rng = SplitMix64(seed)
    layers = []
    for l in range(1, len(widths)):
        n_in, n_out = widths[l - 1], widths[l]
        a = math.sqrt(6.0 / n_in) if acts[l - 1] == "relu" else math.sqrt(6.0 / (n_in + n_out))
        W = np.array([a * (2.0 * rng.uniform() - 1.0) for _ in range(n_in * n_out)])
        layers.append((W.reshape(n_in, n_out), np.zeros(n_out)))
    return layers


ACT = {"tanh": (np.tanh, lambda a: 1 - a * a),
       "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: (1 - a) * a),
       "relu": (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(float)),
       "linear": (lambda z: z, lambda a: np.ones_like(a))}


def forward(layers, acts, X):
    A = [X]
    for (W, b), act in zip(layers, acts):
        A.append(ACT[act][0](A[-1] @ W + b))
    return A


def loss(layers, acts, X, Y):
    return 0.5 * np.sum((forward(layers, acts, X)[-1] - Y) ** 2) / X.shape[0]


def grads(layers, acts, X, Y):
    A = forward(layers, acts, X)
    D = (A[-1] - Y) / X.shape[0] * ACT[acts[-1]][1](A[-1])
    G = [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        G[l] = [A[l].T @ D, D.sum(axis=0)]
        if l:
            D = (D @ layers[l][0].T) * ACT[acts[l - 1]][1](A[l])
    return G


def lr_at(args, epoch):
    if args.lr_schedule == "cosine":
        return args.lr * (1 + math.cos(math.pi * epoch / args.epochs)) / 2
    return args.lr


def split(args, data):
    n_in = args.widths[0]
    held = int(args.validation * data.shape[0])
    train, val = data[:data.shape[0] - held], data[data.shape[0] - held:]
    return train[:, :n_in], train[:, n_in:], val[:, :n_in], val[:, n_in:]


def train_numpy(args, data):
    X, Y, Xv, Yv = split(args, data)
    layers = [[W.copy(), b.copy()] for W, b in init(args.widths, args.acts, args.seed)]
    state = [[[np.zeros_like(p), np.zeros_like(p)] for p in layer] for layer in layers]
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    out = []
    for epoch in range(args.epochs):
        lr, perm, total = lr_at(args, epoch), shuffle(X.shape[0], args.seed, epoch), 0.0
        for start in range(0, X.shape[0], args.batch):
            idx = perm[start:start + args.batch]
            total += loss(layers, args.acts, X[idx], Y[idx]) * len(idx)
            G = grads(layers, args.acts, X[idx], Y[idx])
            t += 1
            for layer, g_layer, st in zip(layers, G, state):
                for k in range(2):
                    g, (m, v) = g_layer[k], st[k]
                    if args.optimizer == "sgd":
                        m[...] = args.momentum * m + g if args.momentum else g
                        layer[k] = layer[k] - lr * m
                        continue
                    m[...] = b1 * m + (1 - b1) * g
                    v[...] = b2 * v + (1 - b2) * g * g
                    denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
                    layer[k] = layer[k] - lr / (1 - b1 ** t) * m / denom
        out.append((epoch + 1, total / X.shape[0], loss(layers, args.acts, Xv, Yv)))
    return out


def train_torch(args, data):
    """The same with torch.nn.Linear layers, torch.optim and CosineAnnealingLR, in float64."""
    import torch
    X, Y, Xv, Yv = (torch.tensor(a, dtype=torch.float64) for a in split(args, data))
    mods = []
    for (W, b), act in zip(init(args.widths, args.acts, args.seed), args.acts):
        lin = torch.nn.Linear(W.shape[0], W.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(W.T))
            lin.bias.copy_(torch.tensor(b))
        mods.append(lin)
        mods += [{"tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid(), "relu": torch.nn.ReLU(),
                  "linear": torch.nn.Identity()}[act]]
    net = torch.nn.Sequential(*mods)
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
             if args.lr_schedule == "cosine" else None)

    def half_mse(out, y):
        return 0.5 * ((out - y) ** 2).sum() / out.shape[0]

    out = []
    for epoch in range(args.epochs):
        perm, total = shuffle(X.shape[0], args.seed, epoch), 0.0
        for start in range(0, X.shape[0], args.batch):
            idx = perm[start:start + args.batch]
            opt.zero_grad()
            batch_loss = half_mse(net(X[idx]), Y[idx])
            batch_loss.backward()
            opt.step()
            total += batch_loss.item() * len(idx)
        if sched:
            sched.step()
        with torch.no_grad():
            out.append((epoch + 1, total / X.shape[0], half_mse(net(Xv), Yv).item()))
    return out


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("csv")
    p.add_argument("--layers", default="2,32,1")
    p.add_argument("--activation", default="tanh")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--validation", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--torch", action="store_true", help="train with PyTorch instead")
    args = p.parse_args(argv)
    args.widths = [int(w) for w in args.layers.split(",")]
    args.acts = [args.activation] * (len(args.widths) - 2) + ["linear"]
    return args


def main(argv):
    args = parse(argv)
    data = np.loadtxt(args.csv, delimiter=",", ndmin=2)
    for epoch, tl, vl in (train_torch if args.torch else train_numpy)(args, data):
        print("%d %.17g %.17g" % (epoch, tl, vl))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
