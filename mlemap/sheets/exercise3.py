"""Exercise 3 (2025): why the log, Gaussian MLE, linear-model MLE, the coin's MAP and posterior predictive, and the
praxis on the mean of a 2-D Gaussian. Declarations only: every answer, figure and paragraph comes from the kinds."""

from __future__ import annotations

import numpy as np
import scipy.integrate
import scipy.stats
import sympy as sp

from mlemap.catalogue import (
    COIN_DATA,
    COIN_MAP,
    COIN_MAP_SD,
    COIN_UNIFORM,
    GAUSSIAN,
    LINEAR_REGRESSION,
    SHEET_PRIOR,
    normal_prior,
    theta,
    x,
    y,
)
from mlemap.derivations.answer import SUM
from mlemap.derivations.designs import gaussian_mean
from mlemap.derivations.engine import n_obs as n
from mlemap.derivations.proof import over_observations
from mlemap.derivations.sheet import (
    Bias,
    Estimate,
    LogTheory,
    OptimizerStudy,
    PlugIn,
    Posterior,
    PosteriorPredictive,
    Precision,
    PriorStrength,
    Sheet,
)
from mlemap.peers import coin_map_scipy

TWO_TAILS = ({x: 0}, {x: 0})
NEXT_HEAD = ({x: 1},)
PRIOR_MEAN, PRIOR_NUMBER = (float(v) for v in SHEET_PRIOR)

THEORY = (
    "Why apply a logarithm on the likelihood? What are analytical reasons? What are numerical reasons? "
    "Does it affect the estimator?"
)
TASK1 = r"We observe $D = \{x_1, \dots, x_n\}$ with i.i.d. $x_i \sim N(\mu, \sigma^2)$. What is the MLE for $\mu$ and $\sigma^2$?"
TASK2 = (
    r"We observe $D = \{(x_1, y_1), \dots, (x_n, y_n)\}$ with $y_i = a x_i + b + \epsilon_i$, i.i.d. "
    r"$\epsilon_i \sim N(0, \sigma^2)$. What is the MLE for $a$, $b$ and $\sigma^2$?"
)
TASK3A = (
    r"Coin tosses $D = (0, 0, 1, 1, 0, 0, 1)$ with $p(x_i = 1 \mid \theta) = \theta$. (a) With "
    r"$p(\theta) = N(0.5, 0.1)$: what is $\theta_{MAP}$, and $P(x_8 = 0, x_9 = 0 \mid \theta_{MAP})$?"
)
TASK3B = r"(b) With $p(\theta) = U(0, 1)$: what is $P(x_8 = 1 \mid D)$?"
PRAXIS1 = (
    r"Find the maximum of $L(\mu)$ by gradient ascent $\mu_{t+1} = \mu_t + \lambda \frac{d}{d\mu} L(\mu)$ from "
    r"$\mu_0 = (0, 0)$ with autograd, visualise the updates. How does the learning rate $\lambda$ affect convergence?"
)
PRAXIS2 = "Use optimisers from torch.optim instead, visualise their updates. How and why do these methods differ?"
PRAXIS3 = (
    r"Optimise over random subsets $\hat D \subset D$ of size $k$. How does $k$ affect convergence? Visualise the "
    r"log-likelihood over the whole data and over subsets $k \in \{1, 5, 10, 100, 1000, \dots\}$: what conclusions "
    "can you make?"
)

# What the students' sheet prints around the praxis's questions, from the exercise as handed out: the definition
# of the log-likelihood L(mu), the helper code, and each task's sub-steps.
PRAXIS_SETUP = (
    r"The goal of the praxis is to implement a maximum likelihood estimator for a normal distribution. We create $n$ "
    r"data samples from a 2-D normal distribution, $X_i \sim \mathcal{N}(\mu, \Sigma)$, and estimate the mean $\mu$ "
    "numerically, by gradient ascent. The likelihood of a single data point is",
    r"$$p(x; \mu, \Sigma) = \frac{1}{\sqrt{|\Sigma| (2\pi)^2}} \exp\left(-\frac{1}{2} (x - \mu) \Sigma^{-1} (x - \mu)^T\right)$$",
    "and its logarithm is",
    r"$$\log p(x; \mu, \Sigma) = -\frac{1}{2} (x - \mu) \Sigma^{-1} (x - \mu)^T + C.$$",
    r"The joint likelihood of the data $D = \{x_1, \dots, x_n\}$ is $p(D; \mu, \Sigma) = \prod_{i=1}^{n} "
    r"p(x_i; \mu, \Sigma)$. We look for the $\mu$ of the highest likelihood, $\Sigma$ known: maximising "
    r"$p(D; \mu, \Sigma)$ over $\mu$ is equivalent to maximising the log-likelihood $L(\mu)$,",
    r"$$\max_{\mu} L(\mu), \qquad L(\mu) := \log p(D; \mu, \Sigma) = \sum_{i=1}^{n} \log p(x_i; \mu, \Sigma).$$",
    r"$L(\mu)$ is differentiable, so gradient ascent can find its maximum, and PyTorch's automatic differentiation "
    r"computes the gradients. Two helper functions are given: L computes the log-likelihood $L(\mu)$ of a data set "
    r"(up to its constant), and vizualize draws it over $[-5, 5] \times [-5, 5]$ as a heatmap, with a list of "
    "gradient updates.",
)
PRAXIS_CODE = '''import numpy as np
import torch
import matplotlib.pyplot as plt

n = $n  # number of samples (decrease it if computations take too much time)
mu, sigma = np.ones(2), 5 * np.eye(2)  # mean and covariance of the ground truth
rng = np.random.default_rng($seed)  # seeded: the sample the solutions use
data = rng.multivariate_normal(mu, sigma, n)  # n data points from the distribution
plt.scatter(data[:, 0], data[:, 1])
plt.show()


def L(X, mu, sigma):
    """
    Computes the log-likelihood over a dataset X for an estimated normal
    distribution parametrized by mean mu and covariance sigma

    X : Tensor
        A data matrix of size n x 2
    mu: Tensor of size 2
        a tensor with two entries describing the mean
    sigma: Tensor of size 2x2
        covariance matrix
    """
    diff = X - mu
    z = -0.5 * diff @ sigma.inverse() * diff
    return z.sum()


def vizualize(X, mus, sigma):
    """
    Plots a heatmap of a likelihood evaluated for different mu.
    It also plots a list of gradient updates.

    X : Tensor
        A data matrix of size n x 2
    mus: list[Tensor]
        A list of 2D tensors. The tensors should be detached from and on CPU.
    sigma: Tensor of size 2x2
        covariance matrix
    """
    loss = lambda x, y: L(X, torch.tensor([x, y]), sigma)
    loss = np.vectorize(loss)
    space = np.linspace(-5, 5, 100)
    x, y = np.meshgrid(space, space)
    zs = np.array(loss(np.ravel(x), np.ravel(y)))
    z = zs.reshape(x.shape)
    plt.pcolormesh(x, y, z)

    mu_x, mu_y = zip(*mus)
    plt.plot(mu_x, mu_y)
    plt.xlim([-5, 5])
    plt.ylim([-5, 5])
    plt.show()


# Example use of the functions
mu = torch.tensor([0.0, 0.0], dtype=torch.float64, requires_grad=True)  # 2D vector
sigma = torch.tensor(sigma, dtype=torch.float64)  # 2D covariance matrix
X = torch.tensor(data, dtype=torch.float64)  # data samples as tensor

loss = L(X, mu, sigma)  # computing loss
loss.backward()  # backpropagation
mu.grad  # gradients are stored in the object

mus = [torch.rand(2) for _ in range(10)]  # a list of 2D mu updates (dummies)
vizualize(X, mus, sigma)
'''
PRAXIS1_STEPS = (
    r"Implement a function that initialises $\mu_0 = (0, 0)^T$, computes the log-likelihood $L(\mu)$, calculates "
    r"its gradient $\frac{d}{d\mu} L(\mu)$ with PyTorch's automatic differentiation, updates $\mu$, and repeats "
    "until convergence or for a fixed number of steps.",
    "Visualise your gradient updates.",
    r"How does the learning rate $\lambda$ affect convergence?",
)
PRAXIS2_STEPS = (
    "Change your vanilla gradient updates to a more sophisticated approach: any of PyTorch's optimisation methods "
    "(torch.optim, https://pytorch.org/docs/stable/optim.html).",
    "Visualise the new gradient updates.",
    "How and why do these methods differ?",
)
PRAXIS3_SETUP = (
    r"Instead of optimising over all data points, take a smaller random subset $\hat D \subset D$ in each "
    "iteration and optimise the approximation",
    r"$$\max_{\mu} \hat L(\mu), \qquad \hat L(\mu) := \log p(\hat D; \mu, \Sigma).$$",
)
PRAXIS3_STEPS = (
    r"Change your optimisation method to take a random subset $\hat D \subset D$ in each iteration. How does the "
    r"size $k := |\hat D|$ affect convergence?",
    r"Visualise the log-likelihood over the whole data and over smaller subsets, $k \in \{1, 5, 10, 100, 1000, "
    r"\dots\}$. What conclusions can you make?",
)

# what the sheet says beyond each derivation
TASK1_REMARK = (
    r"$\hat\mu$ is the sample mean and $\hat\sigma^2$ the mean squared deviation from it: it divides by $n$, not "
    r"$n - 1$, so $E[\hat\sigma^2] = \frac{n-1}{n}\sigma^2$ and it is biased low; the "
    r"unbiased sample variance divides by $n - 1$."
)
TASK2_REMARK = (
    r"$\hat a$ and $\hat b$ are the least-squares line: maximising the likelihood minimises the sum of squared "
    r"residuals. $\hat\sigma^2$ is the mean squared residual (dividing by $n$). The maximum is strict exactly when "
    r"the $x_i$ are not all equal, $n \sum x_i^2 > (\sum x_i)^2$ (the Cauchy-Schwarz inequality)."
)
TASK3A_REMARK = (
    r"The sheet writes $N(\mu, \sigma^2)$, so 0.1 is read as the variance; the second reading, 0.1 as the standard "
    r"deviation, is worked below as well. The seven tosses are few, so the prior's weight is visible. The normal "
    r"prior puts mass outside "
    r"$[0, 1]$; truncating it to $(0, 1)$ multiplies it by a constant, which only shifts the log-posterior, so the "
    r"MAP does not move. The probability of two tails at the MAP is $(1 - \theta_{MAP})^2$."
)
TASK3A_SD_REMARK = (
    r"Read as a standard deviation (variance 0.01) the prior is stronger, and the stationarity condition is an "
    r"irreducible cubic: its one root in $(0, 1)$ is the MAP."
)
TASK3B_REMARK = (
    r"The predictive probability $4/9$ lies between the MLE $3/7$ and the prior mean $1/2$: it averages over the "
    r"posterior instead of plugging in one value, so it never says 0 or 1 after few tosses."
)

# The estimates in the form a textbook gives them; the build proves each equal to the derived one.
xbar, ybar, ahat, bhat = sp.symbols(r"\bar{x} \bar{y} \hat{a} \hat{b}", real=True)


def total(g: sp.Expr) -> sp.Sum:
    """sum_{i=1}^{n} g(x_i, y_i)."""
    return over_observations(g, (x, y), n)


MEANS = {xbar: total(x) / n, ybar: total(y) / n}
GAUSSIAN_FORMS = {"mu": xbar, "sigma^2": total((x - xbar) ** 2) / n}
REGRESSION_WHERE = {**MEANS, ahat: total((x - xbar) * (y - ybar)) / total((x - xbar) ** 2), bhat: ybar - ahat * xbar}
REGRESSION_FORMS = {
    "a": REGRESSION_WHERE[ahat],
    "b": ybar - ahat * xbar,
    "sigma^2": total((y - ahat * x - bhat) ** 2) / n,
}

PRAXIS_MODEL = gaussian_mean(
    "praxis_mean_2d", ((5, 0), (0, 5)), (1, 1), r"Praxis: mean of a 2-D Gaussian with known $\Sigma = 5 I$"
)
ANISOTROPIC = gaussian_mean(
    "praxis_mean_2d_anisotropic",
    ((sp.Rational(21, 8), sp.Rational(19, 8)), (sp.Rational(19, 8), sp.Rational(21, 8))),  # eigenvalues 5, 1/4
    (1, 1),
    r"Praxis: mean of a 2-D Gaussian with an anisotropic $\Sigma$",
)
PRAXIS_RATES = (0.05, 0.25, 0.5, 0.75, 0.95, 1.02)  # fractions of the stability bound, the last one past it
PRIOR_VARIANCES = (1, sp.Rational(3, 10), sp.Rational(1, 10), sp.Rational(3, 100), sp.Rational(1, 100))


def _coin_map(prior_sd: float) -> float:
    return coin_map_scipy(PRIOR_MEAN, prior_sd)({"x": np.array(COIN_DATA, float)})["theta"]


def _two_tails(prior_sd: float) -> float:
    return float(scipy.stats.bernoulli.pmf(0, _coin_map(prior_sd)) ** 2)


def _next_head_by_quadrature() -> float:
    """P(x8 = 1 | D) = int theta L(theta) / int L(theta), by scipy.integrate.quad."""
    heads = int(np.sum(COIN_DATA))
    tails = len(COIN_DATA) - heads
    likelihood = lambda t: t**heads * (1 - t) ** tails  # noqa: E731
    num, _ = scipy.integrate.quad(lambda t: t * likelihood(t), 0, 1, epsabs=1e-15, epsrel=1e-13)
    den, _ = scipy.integrate.quad(likelihood, 0, 1, epsabs=1e-15, epsrel=1e-13)
    return num / den


VARIANCE_SD, SD = float(sp.sqrt(SHEET_PRIOR[1])), PRIOR_NUMBER  # the prior's spread under each reading of 0.1

SHEET = Sheet(
    title="Exercise 3: maximum likelihood and MAP",
    questions=(
        LogTheory("theory", THEORY, GAUSSIAN, example=COIN_UNIFORM, title="Theory: why take the logarithm?"),
        Estimate(
            "task1",
            TASK1,
            GAUSSIAN,
            labels={"mu": r"Gaussian MLE of $\mu$", "sigma^2": r"Gaussian MLE of $\sigma^2$"},
            familiar=GAUSSIAN_FORMS,
            where=MEANS,
            remark=TASK1_REMARK,
            title=r"Task 1: Gaussian MLE of $\mu$ and $\sigma^2$",
        ),
        Estimate(
            "task2",
            TASK2,
            LINEAR_REGRESSION,
            labels={
                "a": r"Linear model MLE of $a$",
                "b": r"Linear model MLE of $b$",
                "sigma^2": r"Linear model MLE of $\sigma^2$",
            },
            familiar=REGRESSION_FORMS,
            where=REGRESSION_WHERE,
            remark=TASK2_REMARK,
            title=r"Task 2: linear model, MLE of $a$, $b$ and $\sigma^2$",
        ),
        Estimate(
            "task3a",
            TASK3A,
            COIN_MAP,
            labels={"theta": r"$\theta_{MAP}$, prior 0.1 read as the variance"},
            remark=TASK3A_REMARK,
            title=r"Task 3a: the coin's MAP, prior variance 0.1",
        ),
        PlugIn(
            "task3a.p_two_tails",
            TASK3A,
            COIN_MAP,
            TWO_TAILS,
            r"$P(x_8 = 0, x_9 = 0 \mid \theta_{MAP})$, 0.1 read as the variance",
            title="Task 3a: two tails at the MAP",
        ),
        Estimate(
            "task3a",
            TASK3A,
            COIN_MAP_SD,
            suffix="_sd",
            labels={"theta": r"$\theta_{MAP}$, prior 0.1 read as the standard deviation"},
            remark=TASK3A_SD_REMARK,
            title="Task 3a, second reading: prior standard deviation 0.1",
        ),
        PlugIn(
            "task3a.p_two_tails_sd",
            TASK3A,
            COIN_MAP_SD,
            TWO_TAILS,
            r"$P(x_8 = 0, x_9 = 0 \mid \theta_{MAP})$, 0.1 read as the standard deviation",
            title="Task 3a, second reading: two tails at the MAP",
        ),
        Posterior(
            "task3b.posterior",
            TASK3B,
            COIN_UNIFORM,
            r"$p(\theta \mid D)$ under $U(0, 1)$",
            title="Task 3b: the posterior under a flat prior",
        ),
        PosteriorPredictive(
            "task3b.p_next_head",
            TASK3B,
            COIN_UNIFORM,
            NEXT_HEAD,
            r"$P(x_8 = 1 \mid D)$ under $U(0, 1)$",
            remark=TASK3B_REMARK,
            title="Task 3b: the posterior predictive",
        ),
        OptimizerStudy(
            "praxis",
            PRAXIS1,
            PRAXIS_MODEL,
            fractions=PRAXIS_RATES,
            parts=("ascent", "grid"),
            n=10_000,
            labels={
                "lr_bound": "largest stable gradient-ascent rate",
                "lr_optimal": "rate with the fastest worst-case contraction",
                "mu1": r"sample mean, $\mu_1$",
                "mu2": r"sample mean, $\mu_2$",
            },
            title="Praxis 1: gradient ascent and the learning rate",
            setup=PRAXIS_SETUP,
            code=PRAXIS_CODE,
            steps=PRAXIS1_STEPS,
        ),
        OptimizerStudy(
            "praxis.optimizers",
            PRAXIS2,
            PRAXIS_MODEL,
            parts=("optimizers",),
            n=10_000,
            compare=ANISOTROPIC,
            title="Praxis 2: torch.optim's optimizers",
            steps=PRAXIS2_STEPS,
        ),
        OptimizerStudy(
            "praxis.batches",
            PRAXIS3,
            PRAXIS_MODEL,
            parts=("batches",),
            n=10_000,
            batch_sizes=(1, 5, 10, 100, 1000, 10_000),
            title="Praxis 3: stochastic gradients",
            setup=PRAXIS3_SETUP,
            steps=PRAXIS3_STEPS,
        ),
    ),
    appendix=(
        Precision(
            "appendix.precision_task1",
            "How precise are Task 1's estimates?",
            GAUSSIAN,
            title="Appendix: the precision of Task 1's estimates",
        ),
        Precision(
            "appendix.precision_task2",
            "How precise are Task 2's estimates?",
            LINEAR_REGRESSION,
            title="Appendix: the precision of Task 2's estimates",
        ),
        Precision(
            "appendix.precision_task3",
            "How precise is the coin's MAP?",
            COIN_MAP,
            title="Appendix: the precision of the coin's MAP",
        ),
        Bias(
            "appendix.bias",
            r"Is Task 1's estimator of $\sigma^2$ unbiased?",
            GAUSSIAN,
            params=("sigma^2",),
            title="Appendix: the bias of the variance estimator",
        ),
        PriorStrength(
            "appendix.prior_strength",
            "How much does the prior matter for the coin?",
            COIN_MAP,
            priors={f"$N(0.5, {sp.latex(v)})$": normal_prior(theta, sp.Rational(1, 2), v) for v in PRIOR_VARIANCES},
            title="Appendix: the prior's weight",
        ),
    ),
    names={"h": SUM(x)},  # the number of heads, as students write it: (h + 1) / (n + 2)
    peers={
        "task3a.theta_map": lambda: _coin_map(VARIANCE_SD),
        "task3a.p_two_tails": lambda: _two_tails(VARIANCE_SD),
        "task3a.theta_map_sd": lambda: _coin_map(SD),
        "task3a.p_two_tails_sd": lambda: _two_tails(SD),
        "task3b.p_next_head": _next_head_by_quadrature,
    },
)
