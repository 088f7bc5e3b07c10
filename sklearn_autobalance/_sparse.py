"""Sparse input: the data stay a CSR matrix, and rows are densified a block at a time.

``fit`` and the prediction methods accept SciPy sparse ``X`` (CSR and CSC; any other
format is converted to CSR by scikit-learn's validation). The matrix is wrapped
in :class:`SparseRows`, which takes the place of the dense float32 tensor
``data["X"]`` in every code path: indexing it (a slice, a 1-D or a 2-D index
tensor) selects rows and stays sparse, and :func:`dense` turns the selected
rows into the float32 tensor the network reads, on the estimator's device.

Where the rows are densified:

- training mini-batches (``TensorBatches``, ``FoldBatches``): ``batch_size``
  rows (``k * batch_size`` for the ``k`` fold networks of the search);
- the search's hyper-batches (``CrossFit.hyper_losses``);
- prediction, validation scoring and the heads' penultimate features: blocks of
  at most :data:`CHUNK_FLOATS` floats (and never more rows than a dense input
  would use), see :func:`chunk_rows`.

The whole matrix is never densified. The dense path is unchanged: :func:`dense`
returns a tensor as it is, and :func:`chunk_rows` the rows it is given.
"""

import math

import numpy as np
import scipy.sparse as sp
import torch

#: What ``validate_data`` accepts as is; any other sparse format becomes CSR.
ACCEPT_SPARSE = ("csr", "csc")

#: The most floats one densified block of sparse rows holds outside the
#: training batches (prediction, validation scoring, features): 2**24 float32,
#: 64 MiB (335 rows of 50,000 features).
CHUNK_FLOATS = 2 ** 24


class SparseRows:
    """Rows of a CSR matrix standing in for a dense ``(*lead_shape, n_features)`` tensor.

    Parameters
    ----------
    matrix : scipy sparse matrix or array
        Converted to a float32 ``csr_matrix`` (sharing the caller's arrays when
        it already is one; nothing is ever written into them).
    device : torch.device
        Where :meth:`dense` puts the densified rows.
    lead_shape : tuple of int or None
        The leading axes of the stand-in tensor (their product is the number of
        rows of ``matrix``): ``(n,)`` by default, ``(k, batch)`` for the rows
        of ``k`` fold networks selected with a 2-D index.
    """

    def __init__(self, matrix, device, lead_shape=None):
        matrix = sp.csr_matrix(matrix.tocsr(copy=False), copy=False)
        self.matrix = matrix.astype(np.float32, copy=False)
        self.device = torch.device(device)
        self.lead_shape = (matrix.shape[0],) if lead_shape is None else tuple(lead_shape)
        if math.prod(self.lead_shape) != matrix.shape[0]:
            raise ValueError(f"lead_shape {self.lead_shape} does not match "
                             f"{matrix.shape[0]} rows")

    dtype = torch.float32

    @property
    def n_features(self):
        return self.matrix.shape[1]

    @property
    def shape(self):
        return torch.Size((*self.lead_shape, self.n_features))

    @property
    def ndim(self):
        return len(self.lead_shape) + 1

    def __len__(self):
        return self.lead_shape[0]

    def __getitem__(self, index):
        """The rows ``index`` selects (slice, or 1-D / 2-D integer index), still sparse."""
        if len(self.lead_shape) != 1:
            raise TypeError("only a (n_samples, n_features) SparseRows can be indexed")
        if isinstance(index, slice):
            return SparseRows(self.matrix[index], self.device)
        if isinstance(index, torch.Tensor):
            index = index.detach().cpu().numpy()
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        if index.ndim == 0 or not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"SparseRows takes a slice or an integer index array; got {index!r}")
        return SparseRows(self.matrix[index.reshape(-1)], self.device, index.shape)

    def dense(self):
        """The rows as a float32 tensor of shape :attr:`shape` on :attr:`device`."""
        block = torch.from_numpy(self.matrix.toarray())
        return block.reshape(self.shape).to(self.device)

    def column_std(self):
        """Per-feature standard deviation (population, ``ddof=0``) as a float32 tensor."""
        from sklearn.utils.sparsefuncs import mean_variance_axis

        _, var = mean_variance_axis(self.matrix.astype(np.float64), axis=0)
        return torch.as_tensor(np.sqrt(np.maximum(var, 0.0)), dtype=torch.float32,
                               device=self.device)

    def __repr__(self):
        return (f"SparseRows(shape={tuple(self.shape)}, nnz={self.matrix.nnz}, "
                f"device={self.device})")


def dense(X):
    """``X`` as a dense tensor: a :class:`SparseRows` densified, a tensor as it is."""
    return X.dense() if isinstance(X, SparseRows) else X


def chunk_rows(X, rows):
    """Rows per block for scoring ``X`` in blocks of ``rows``: fewer for wide sparse data.

    A dense ``X`` (a tensor) is already in memory, so its block size is
    ``rows``; a :class:`SparseRows` block holds at most :data:`CHUNK_FLOATS`
    floats once densified.
    """
    if not isinstance(X, SparseRows):
        return rows
    return max(1, min(rows, CHUNK_FLOATS // max(1, X.n_features)))


def as_rows(X, device):
    """The network's input for validated ``X``: a float32 tensor copy, or :class:`SparseRows`."""
    if sp.issparse(X):
        return SparseRows(X, device)
    # torch.tensor copies: the caller's (possibly read-only) array is never shared.
    return torch.tensor(X, dtype=torch.float32, device=device)
