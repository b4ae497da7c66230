"""Linear intent classifier with temperature-scaled softmax confidences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from nlu.errors import ConfigError

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]

_MODELS = ("linear_svc", "logistic", "nbsvm")


def nb_ratios(
    x: sparse.csr_matrix, labels: npt.NDArray[np.str_], classes: Sequence[str], alpha: float = 1.0
) -> npt.NDArray[np.float64]:
    """Naive Bayes log-count ratios per class (Wang & Manning 2012), shape (classes, features).

    ``r_c = log((p_c / |p_c|_1) / (q_c / |q_c|_1))`` with ``p_c`` (``q_c``) the smoothed number
    of messages of class c (of the other classes) in which each feature occurs.
    """
    present = (x > 0).astype(np.float64)
    out = np.zeros((len(classes), x.shape[1]), dtype=np.float64)
    total = np.asarray(present.sum(axis=0)).ravel()
    for j, c in enumerate(classes):
        p = alpha + np.asarray(present[labels == c].sum(axis=0)).ravel()
        q = alpha + (total - (p - alpha))
        out[j] = np.log(p / p.sum()) - np.log(q / q.sum())
    return out


class LinearIntentClassifier:
    """One weight vector per intent over the concatenated features.

    Scores are ``W x + b``; confidences are ``softmax(scores / temperature)`` where the
    temperature is fitted on held-out data, so a confidence of 0.8 means "right about 80% of
    the time" on data like the training data.

    ``model`` is ``linear_svc``, ``logistic``, ``nbsvm`` (one-vs-rest LinearSVC on features
    scaled by each intent's naive-Bayes log-count ratios, Wang & Manning 2012) or a list of
    them: an ensemble whose scores are averaged after scaling each member's scores to unit
    standard deviation on the training data. Every variant is linear in the features, so each
    folds into one weight matrix and parsing costs the same whatever the choice.
    """

    name = "linear"

    def __init__(
        self,
        *,
        model: str | list[str] = "linear_svc",
        c: float | list[float] = 1.0,
        class_weight: str | None = "balanced",
        max_iter: int = 2000,
    ) -> None:
        models = [model] if isinstance(model, str) else list(model)
        cs = [float(c)] * len(models) if isinstance(c, int | float) else [float(v) for v in c]
        if not models or any(m not in _MODELS for m in models):
            raise ConfigError(f"classifier model must be one or more of {_MODELS}, not {model!r}")
        if len(cs) != len(models) or any(v <= 0 for v in cs):
            raise ConfigError("classifier c must be positive, one value per model")
        self.model = model
        self.c = c
        self._members = list(zip(models, cs, strict=True))
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.labels: list[str] = []
        self.weights: FloatArray = np.zeros((0, 0), dtype=np.float32)
        self.bias: FloatArray = np.zeros(0, dtype=np.float32)
        self.temperature = 1.0

    @property
    def params(self) -> dict[str, object]:
        """Constructor parameters (saved with the model)."""
        return {
            "model": self.model,
            "c": self.c,
            "class_weight": self.class_weight,
            "max_iter": self.max_iter,
        }

    def fit(self, x: sparse.csr_matrix, labels: Sequence[str]) -> None:
        """Fit the weights; labels must name at least two intents."""
        y = np.asarray([str(label) for label in labels])
        self.labels = sorted(set(y.tolist()))
        weights = np.zeros((x.shape[1], len(self.labels)), dtype=np.float64)
        bias = np.zeros(len(self.labels), dtype=np.float64)
        for model, c in self._members:
            coef, intercept = self._fit_member(model, c, x, y)
            if len(self._members) > 1:
                # Put members on one scale before averaging: unit std of their training scores.
                scores = np.asarray(x @ coef.T) + intercept
                scale = float(np.std(scores - scores.mean(axis=1, keepdims=True))) or 1.0
                coef, intercept = coef / scale, intercept / scale
            weights += coef.T
            bias += intercept
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)  # (features, intents)
        self.bias = bias.astype(np.float32)

    def _fit_member(
        self, model: str, c: float, x: sparse.csr_matrix, y: npt.NDArray[np.str_]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """One member's (intents, features) coefficients and intercepts, in label order."""
        if model == "nbsvm":
            ratios = nb_ratios(x, y, self.labels)
            coef = np.zeros((len(self.labels), x.shape[1]))
            intercept = np.zeros(len(self.labels))
            for j, label in enumerate(self.labels):
                scaled = x.copy()
                scaled.data = scaled.data * ratios[j][scaled.indices]  # x * r, column-wise
                binary = LinearSVC(
                    C=c, class_weight=self.class_weight, max_iter=self.max_iter, random_state=0
                ).fit(scaled, (y == label).astype(np.int64))
                # w . (r * x) = (w * r) . x: the ratios fold into the weights.
                coef[j] = np.asarray(binary.coef_).ravel() * ratios[j]
                intercept[j] = float(np.asarray(binary.intercept_).ravel()[0])
            return coef, intercept
        estimator: LinearSVC | LogisticRegression
        if model == "linear_svc":
            estimator = LinearSVC(
                C=c, class_weight=self.class_weight, max_iter=self.max_iter, random_state=0
            )
        else:
            estimator = LogisticRegression(
                C=c, class_weight=self.class_weight, max_iter=self.max_iter
            )
        estimator.fit(x, y)
        # scikit-learn orders classes_ sorted, as self.labels: the rows line up.
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        intercept = np.asarray(estimator.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:
            # Binary problems come back as one row scoring the second class; make it two.
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return coef, intercept

    def scores_many(self, x: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        """Raw scores of several messages, shape (messages, intents)."""
        return np.asarray(x @ self.weights, dtype=np.float64) + self.bias

    def scores(self, idx: IntArray, val: FloatArray) -> npt.NDArray[np.float64]:
        """Raw scores of one message given as a sparse vector."""
        if len(idx) == 0:
            return self.bias.astype(np.float64)
        return (val @ self.weights[idx]).astype(np.float64) + self.bias

    def probabilities(self, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Temperature-scaled softmax over the last axis."""
        z = scores / self.temperature
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        out: npt.NDArray[np.float64] = e / e.sum(axis=-1, keepdims=True)
        return out

    def fit_temperature(self, scores: npt.NDArray[np.float64], gold: Sequence[str]) -> float:
        """Choose the temperature minimising the negative log-likelihood of held-out labels."""
        index = {label: i for i, label in enumerate(self.labels)}
        rows = [(i, index[g]) for i, g in enumerate(gold) if g in index]
        if not rows:
            return self.temperature
        r = np.array([i for i, _ in rows])
        cols = np.array([j for _, j in rows])
        s = scores[r]

        def nll(log_t: float) -> float:
            z = s / np.exp(log_t)
            z = z - z.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            return float(-log_p[np.arange(len(cols)), cols].mean())

        result = minimize_scalar(nll, bounds=(-5.0, 3.0), method="bounded")
        self.temperature = float(np.exp(result.x))
        return self.temperature
