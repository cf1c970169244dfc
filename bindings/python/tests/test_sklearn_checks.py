"""scikit-learn's own estimator checks, every one, with none expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from glassbox import MLPClassifier, MLPRegressor


@parametrize_with_checks(
    [MLPClassifier(random_state=0), MLPRegressor(random_state=0)],
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
