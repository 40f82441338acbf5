"""What a check does with the student's code, recorded as it happens: which call of the student's raised (the
runner, coursekit/report.py, tells a failure of the tested method from one of a method only used on the way), and
the calls replayed as a snippet by --explain. The wrapper only forwards (to the student's object, or its proxy in the
grader's sandbox); arrays passed in are recorded as copies taken before the call, what comes back as it is.

    transcript = Transcript(["Linear", "Softmax"])   # the classes of the task table
    check.function(transcript.wrap(module))           # transcript.raised_in: "Linear.forward", if it raised
"""

import inspect
import re
from dataclasses import dataclass, field

import numpy as np

DATA = (np.ndarray, np.generic, int, float, complex, bool, str, bytes, type(None), list, tuple, dict)


@dataclass
class Step:
    """kind 'new' (target = name(*args)), 'set' (target.name = args[0]), 'call' (target.name(*args) returned value)
    or 'get' (target.name read: value). function: the method called; owner: the class of the object."""

    kind: str
    target: str
    name: str
    args: tuple = ()
    kwargs: tuple = ()  # (name, value) pairs
    value: object = None
    function: object = None
    owner: str = ""


@dataclass
class Ref:
    """A student's object passed as an argument, by its variable."""

    var: str


@dataclass
class Transcript:
    classes: set
    steps: list = field(default_factory=list)
    raised_in: str = None  # "Linear.forward" when a call of the student's raised (the last one that did)
    _counts: dict = field(default_factory=dict)

    def wrap(self, module):
        return _Module(module, self)

    def new_variable(self, cls):
        base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", cls).lower()
        self._counts[base] = self._counts.get(base, 0) + 1
        return base if self._counts[base] == 1 else f"{base}{self._counts[base]}"

    def call_arrays(self, call_step):
        """[(name, shape)] of the arrays the object of call_step was given: set on it (W.data...), passed to it."""
        names = ArrayNames()
        arrays = named_arguments(call_step, names)  # the call's own arguments first
        for step in self.steps:
            if step is call_step:
                break
            on_it = step.target == call_step.target or step.target.startswith(call_step.target + ".")
            if step.kind == "set" and on_it:
                arrays.append((f"{step.target}.{step.name}"[len(call_step.target) + 1:], step.args[0]))
            elif step.kind == "call" and step.target == call_step.target:
                arrays += named_arguments(step, names)
        return list({name: value.shape for name, value in arrays if isinstance(value, np.ndarray)}.items())

    def last_call(self):
        return next((step for step in reversed(self.steps) if step.kind in ("call", "new")), None)


def record(value):
    """What to keep of an argument: a copy of arrays (the call may change them), a Ref for the student's objects."""
    if isinstance(value, _Object):
        return Ref(object.__getattribute__(value, "_var"))
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (list, tuple):
        return type(value)(record(item) for item in value)
    return value


def unwrap(value):
    if isinstance(value, _Object):
        return object.__getattribute__(value, "_obj")
    if type(value) in (list, tuple):
        return type(value)(unwrap(item) for item in value)
    return value


def is_method(value):
    return inspect.ismethod(value) or type(value).__name__ == "RemoteMethod"


class _Module:
    def __init__(self, module, transcript):
        self._module, self._transcript = module, transcript

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if name in self._transcript.classes:
            return _Class(value, name, self._transcript)
        return value


class _Class:
    def __init__(self, cls, name, transcript):
        self._cls, self._name, self._transcript = cls, name, transcript

    def __call__(self, *args, **kwargs):
        transcript = self._transcript
        var = transcript.new_variable(self._name)
        transcript.steps.append(Step("new", var, self._name, record(args), record(tuple(kwargs.items())),
                                     owner=self._name))
        obj = _run(transcript, f"{self._name}.__init__", self._cls, args, kwargs)
        return _Object(obj, self._name, var, transcript)


def _run(transcript, call, function, args, kwargs):
    """function(*args, **kwargs) with the student's objects unwrapped; remembers `call` if it raises."""
    try:
        return function(*unwrap(args), **{key: unwrap(value) for key, value in kwargs.items()})
    except BaseException:
        transcript.raised_in = call
        raise


class _Object:
    """A student's object (or a proxy of one) seen through the transcript."""

    def __init__(self, obj, cls, var, transcript):
        for key, value in (("_obj", obj), ("_cls", cls), ("_var", var), ("_transcript", transcript)):
            object.__setattr__(self, key, value)

    def __getattr__(self, name):
        obj, var, transcript = (object.__getattribute__(self, key) for key in ("_obj", "_var", "_transcript"))
        value = getattr(obj, name)
        if is_method(value):
            return _Method(self, name, value)
        if isinstance(value, DATA):
            transcript.steps.append(Step("get", var, name, value=value))
            return value
        return _Object(value, None, f"{var}.{name}", transcript)

    def __setattr__(self, name, value):
        obj, var, transcript = (object.__getattribute__(self, key) for key in ("_obj", "_var", "_transcript"))
        transcript.steps.append(Step("set", var, name, (record(value),)))
        setattr(obj, name, unwrap(value))

    def __call__(self, *args, **kwargs):  # layer(x): Module.__call__ calls forward
        return _Method(self, "__call__", object.__getattribute__(self, "_obj"))(*args, **kwargs)


class _Method:
    def __init__(self, owner, name, function):
        self._owner, self._name, self._function = owner, name, function

    def __call__(self, *args, **kwargs):
        cls, var, transcript = (object.__getattribute__(self._owner, key) for key in ("_cls", "_var", "_transcript"))
        step = Step("call", var, self._name, record(args), record(tuple(kwargs.items())), function=self._function,
                    owner=cls or "")
        transcript.steps.append(step)
        method = "forward" if self._name == "__call__" else self._name
        step.value = _run(transcript, f"{cls or var}.{method}", self._function, args, kwargs)
        return step.value


class ArrayNames:
    """A variable name for each distinct array: the same values get the same name, different ones x, x2..."""

    def __init__(self):
        self.names = {}  # (dtype, shape, bytes) -> name
        self.taken = set()

    def name(self, array, wanted):
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.names:
            name, count = wanted, 1
            while name in self.taken:
                count += 1
                name = f"{wanted}{count}"
            self.names[key] = name
            self.taken.add(name)
        return self.names[key]


def parameter_names(step):
    """The names of the parameters of the method of a call step (arg1, arg2... when they cannot be read)."""
    try:
        names = [p.name for p in inspect.signature(step.function).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # a proxy's method, a builtin: no signature here
        names = []
    if step.name == "__call__" and names[:1] == ["self"]:
        names = names[1:]
    return names


def keyed_arguments(step):
    """[(parameter name, value)] of the positional arguments of a call step."""
    params = parameter_names(step)
    return [(params[i] if i < len(params) else ("x" if i == 0 else f"arg{i + 1}"), value)
            for i, value in enumerate(step.args)]


def named_arguments(step, names):
    """[(name, value)] of the arguments of a call step, arrays named after the method's parameters."""
    return [(names.name(value, key) if isinstance(value, np.ndarray) else key, value)
            for key, value in [*keyed_arguments(step), *step.kwargs]]
