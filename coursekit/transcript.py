"""What a check does with the student's code, as it happens: which call raised (the tested method, or one used on the
way?), the calls --explain replays. The wrapper only forwards (to the object, or the grader's sandbox proxy of it)."""

import inspect
import re
from dataclasses import dataclass, field

import numpy as np

DATA = (np.ndarray, np.generic, int, float, complex, bool, str, bytes, type(None), list, tuple, dict)


@dataclass
class Step:
    """'new' (target = name(*args)), 'set' (target.name = args[0]), 'call' (value = target.name(*args)), 'get'."""

    kind: str
    target: str
    name: str
    args: tuple = ()
    kwargs: tuple = ()  # (name, value) pairs
    value: object = None
    function: object = None


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

    def call_arrays(self):
        """[(name, shape)] of the arrays the object of the last call was given: set on it (W.data...), passed to it."""
        call_step = next((step for step in reversed(self.steps) if step.kind in ("call", "new")), None)
        if call_step is None or call_step.kind != "call":
            return []
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


def record(value):
    """What to keep of an argument: a copy of arrays (the call may change them)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (list, tuple):
        return type(value)(record(item) for item in value)
    return value


class _Module:
    def __init__(self, module, transcript):
        self._module, self._transcript = module, transcript

    def __getattr__(self, name):
        cls, transcript = getattr(self._module, name), self._transcript
        if name not in transcript.classes:
            return cls

        def new(*args, **kwargs):
            var = transcript.new_variable(name)
            transcript.steps.append(Step("new", var, name, record(args), record(tuple(kwargs.items()))))
            return _Object(_run(transcript, f"{name}.__init__", cls, args, kwargs), name, var, transcript)
        return new


def _run(transcript, call, function, args, kwargs):  # remembers `call` if it raises
    try:
        return function(*args, **kwargs)
    except BaseException:
        transcript.raised_in = call
        raise


class _Object:
    """A student's object (or a proxy of one) seen through the transcript."""

    def __init__(self, obj, cls, var, transcript):
        self.__dict__.update(_obj=obj, _cls=cls, _var=var, _transcript=transcript)  # not through __setattr__

    def __getattr__(self, name):  # only for names the wrapper itself lacks: the object's
        value = getattr(self._obj, name)
        if inspect.ismethod(value) or type(value).__name__ == "RemoteMethod":  # (RemoteMethod: the sandbox's)
            return _Method(self, name, value)
        if isinstance(value, DATA):
            self._transcript.steps.append(Step("get", self._var, name, value=value))
            return value
        return _Object(value, None, f"{self._var}.{name}", self._transcript)

    def __setattr__(self, name, value):
        self._transcript.steps.append(Step("set", self._var, name, (record(value),)))
        setattr(self._obj, name, value)

    def __call__(self, *args, **kwargs):  # layer(x): Module.__call__ calls forward
        return _Method(self, "__call__", self._obj)(*args, **kwargs)


class _Method:
    def __init__(self, owner, name, function):
        self._owner, self._name, self._function = owner, name, function

    def __call__(self, *args, **kwargs):
        owner = self._owner
        step = Step("call", owner._var, self._name, record(args), record(tuple(kwargs.items())),
                    function=self._function)
        owner._transcript.steps.append(step)
        method = "forward" if self._name == "__call__" else self._name
        step.value = _run(owner._transcript, f"{owner._cls or owner._var}.{method}", self._function, args, kwargs)
        return step.value


class ArrayNames:
    """A variable name for each distinct array: the same values get the same name, different ones x, x2..."""

    def __init__(self):
        self.names = {}  # (dtype, shape, bytes) -> name

    def name(self, array, wanted):
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.names:
            count = 1
            while (f"{wanted}{count}" if count > 1 else wanted) in self.names.values():
                count += 1
            self.names[key] = f"{wanted}{count}" if count > 1 else wanted
        return self.names[key]


def keyed_arguments(step):
    """[(parameter name, value)] of the positional arguments of a call step (x, arg2... when names cannot be read)."""
    try:
        params = [p.name for p in inspect.signature(step.function).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # a proxy's method, a builtin: no signature here
        params = []
    if step.name == "__call__" and params[:1] == ["self"]:
        params = params[1:]
    return [(params[i] if i < len(params) else ("x" if i == 0 else f"arg{i + 1}"), value)
            for i, value in enumerate(step.args)]


def named_arguments(step, names):
    """[(name, value)] of the arguments of a call step, arrays named after the method's parameters."""
    return [(names.name(value, key) if isinstance(value, np.ndarray) else key, value)
            for key, value in [*keyed_arguments(step), *step.kwargs]]
