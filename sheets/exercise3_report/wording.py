"""Exercise 3's wording: the questions as the sheet asks them, the prose macros (text.j2) and number format."""

from __future__ import annotations

from pathlib import Path

from reports.document import environment

TEXT = environment(Path(__file__).parent).get_template("text.j2").module

QUESTIONS = {
    "theory": "Why apply a logarithm on the likelihood? What are analytical reasons? What are numerical reasons? Does it affect the estimator?",
    "task1": r"We observe $D = \{x_1, \dots, x_n\}$ with i.i.d. $x_i \sim N(\mu, \sigma^2)$. What is the MLE for $\mu$ and $\sigma^2$?",
    "task2": r"We observe $D = \{(x_1, y_1), \dots, (x_n, y_n)\}$ with $y_i = a x_i + b + \epsilon_i$, i.i.d. $\epsilon_i \sim N(0, \sigma^2)$. What is the MLE for $a$, $b$ and $\sigma^2$?",
    "task3": r"Coin tosses $D = (0, 0, 1, 1, 0, 0, 1)$ with $p(x_i = 1 \mid \theta) = \theta$. (a) With $p(\theta) = N(0.5, 0.1)$: what is $\theta_{MAP}$, and $P(x_8 = 0, x_9 = 0 \mid \theta_{MAP})$? (b) With $p(\theta) = U(0, 1)$: what is $P(x_8 = 1 \mid D)$?",
    "praxis2": "Use optimisers from torch.optim instead, visualise their updates. How and why do these methods differ?",
    "praxis3": r"Optimise over random subsets $\hat D \subset D$ of size $k$. How does $k$ affect convergence? Visualise the log-likelihood over the whole data and over subsets $k \in \{1, 5, 10, 100, 1000, \dots\}$: what conclusions can you make?",
}


def g(x, digits: int = 4) -> str:
    return f"{x:.{digits}g}"


def count(v) -> str:
    return "not reached" if v is None else str(v)
