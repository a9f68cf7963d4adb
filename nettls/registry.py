def resolve(*a, **k): raise NotImplementedError
link = load = resolve
registry = None
class Registry: pass
