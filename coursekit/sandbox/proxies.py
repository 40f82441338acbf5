"""Proxies: the student's objects as they are used from the grader, each attribute access, call and assignment a
request to the student's process, which holds the real object (coursekit/sandbox/client.py sends them)."""

import threading


class RemoteObject:
    """An object of the student's process, used from here: attributes, calls and assignments are requests, and
    iterating over one asks for list(obj) there. Its type here is named after the student's type ("Linear").

    Names of the form __x__ never cross (NumPy and Python probe those, e.g. __array_interface__, and must find
    nothing): getting one raises AttributeError here.
    """

    __slots__ = ("_box", "_generation", "_handle", "_methods")

    def __init__(self, box, generation, handle, methods=frozenset()):
        object.__setattr__(self, "_box", box)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_methods", methods)  # the methods of its class: no request to get one

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name in self._methods:
            return RemoteMethod(self, name)
        return self._box._getattr(self, name)

    def __setattr__(self, name, value):
        self._box._setattr(self, name, value)

    def __call__(self, *args, **kwargs):
        return self._box._call(self, "", args, kwargs)

    def __iter__(self):
        return iter(self._box._request(self, {"op": "list"}))

    def __repr__(self):
        return f"<{type(self).__name__} object of the student's>"


class RemoteMethod:
    """A method of an object of the student's, got without a request: calling it gets and calls it there."""

    __slots__ = ("_owner", "_name")

    def __init__(self, owner, name):
        self._owner = owner
        self._name = name

    def __call__(self, *args, **kwargs):
        return self._owner._box._call(self._owner, self._name, args, kwargs)

    def __repr__(self):
        return f"<method {self._name} of {self._owner!r}>"


_proxy_classes = {}  # type name -> subclass of RemoteObject of that name, so that messages name the student's type
_proxy_lock = threading.Lock()


def proxy_class(type_name):
    with _proxy_lock:
        if type_name not in _proxy_classes and len(_proxy_classes) < 500:
            _proxy_classes[type_name] = type(type_name, (RemoteObject,), {"__slots__": (), "__module__": __name__})
        return _proxy_classes.get(type_name, RemoteObject)
