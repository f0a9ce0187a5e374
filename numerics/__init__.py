"""Lambdified derivations checked against torch autograd, finite differences, optimizers and peers."""
