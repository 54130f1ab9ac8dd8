"""Public torch modules used by the crossmodal estimators.

The estimators wrap these in skorch nets, e.g.
``NeuralNetClassifier(MLP, module__hidden_sizes=(), criterion=nn.CrossEntropyLoss)``;
``in_features`` and ``n_classes`` are filled in at fit time.
"""

from torch import nn

__all__ = ["MLP"]


class MLP(nn.Sequential):
    """Multi-layer perceptron returning class logits.

    A plain :class:`torch.nn.Sequential` of ``Linear`` layers with an
    activation (and optional dropout) between them, so that the salience
    engine can see its first layer, and ``layer=`` can name any child by
    index. ``hidden_sizes=()`` gives a single ``Linear`` layer: the logistic
    regression used by the paper's synthetic experiments.

    Parameters
    ----------
    in_features : int
        Number of input channels.
    n_classes : int
        Number of output logits.
    hidden_sizes : tuple of int, default=(128,)
        Width of each hidden layer; ``()`` for a linear model.
    activation : type of torch.nn.Module, default=torch.nn.ReLU
        Activation class, instantiated once per hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden activation (0 adds no layer).

    Examples
    --------
    >>> import torch
    >>> from crossmodal.nets import MLP
    >>> net = MLP(5, 3, hidden_sizes=(8,))
    >>> net(torch.zeros(2, 5)).shape
    torch.Size([2, 3])
    >>> MLP(5, 2, hidden_sizes=())
    MLP(
      (0): Linear(in_features=5, out_features=2, bias=True)
    )
    """

    def __init__(self, in_features, n_classes, hidden_sizes=(128,), activation=nn.ReLU, dropout=0.0):
        if int(in_features) < 1 or int(n_classes) < 1:
            raise ValueError(
                f"MLP needs in_features >= 1 and n_classes >= 1; got in_features={in_features}, n_classes={n_classes}."
            )
        layers = []
        width = int(in_features)
        for size in hidden_sizes:
            layers.append(nn.Linear(width, int(size)))
            layers.append(activation())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(size)
        layers.append(nn.Linear(width, int(n_classes)))
        super().__init__(*layers)
        self.in_features = int(in_features)
        self.n_classes = int(n_classes)
