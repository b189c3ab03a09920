"""Model flavors. Built-ins register here through the same ``register`` outsiders use."""

from opsloop.services.flavors.base import Flavor, detect, get, names, register
from opsloop.services.flavors.boosting import LightGBMFlavor, XGBoostFlavor
from opsloop.services.flavors.onnx import OnnxFlavor
from opsloop.services.flavors.pyfunc import PyFuncFlavor
from opsloop.services.flavors.sklearn import SklearnFlavor

# Detection tries the last registered first: the most specific flavors go last.
for _flavor in (PyFuncFlavor(), SklearnFlavor(), LightGBMFlavor(), XGBoostFlavor(), OnnxFlavor()):
    register(_flavor)

__all__ = ["Flavor", "detect", "get", "names", "register"]
