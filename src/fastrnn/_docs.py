"""The docstring sections the two estimators share: their hyperparameters
(``PARAMS_DOC``), fitted attributes and notes (``ATTRS_DOC``), each with
%-placeholders for what differs by class (the shapes of y, the number of
outputs, the class's own attributes)."""

PARAMS_DOC = """
    Parameters
    ----------
    n_hidden : int or tuple of int, default=64
        Number of hidden units H; a tuple stacks layers, one size per layer
        (as scikit-learn's ``hidden_layer_sizes``): ``(128, 64)`` is a
        layer of 128 units whose states are the inputs of a layer of 64,
        whose states the readout reads. Every layer trains by BPTT at once
        (the gradient of a layer's input is the gradient of the states of
        the layer below). See *Stacked and bidirectional networks* in the
        Notes for the names and shapes of their weights and states.
    bidirectional : bool, default=False
        Run every layer in both directions, as PyTorch's
        ``nn.RNN(bidirectional=True)``: a second set of weights reads each
        sequence from its last true step back to step 0 (padding never
        enters it), and the layer's output is the two directions' states
        side by side (2H units). With ``output_steps="last"`` the readout
        reads the forward direction's state at the last step and the
        backward direction's at step 0 (PyTorch's final ``h_n``). The
        backward direction needs whole sequences: ``bptt_steps`` must be
        None and ``step`` raises a ValueError.
    activation : {"tanh", "relu"}, default="tanh"
        Nonlinearity of the recurrence ``h_t = act(x_t W_xh + h_{t-1} W_hh + b)``.
    output_steps : "all", "last" or int, default="all"
        Where the targets (teaching signals) are: one per step (y of shape
        %(all)s), one per sequence at its last true step (%(last)s), or at
        the last K true steps of each sequence (%(K)s). A ``target_mask``
        passed to fit/score teaches any subset of these.
    readout : bool, default=True
        True: the outputs are the linear readout ``h_t @ W_hy_ + b_y_``.
        False (regressor only): there is no readout; the targets are put on the
        hidden units themselves, y's k columns being the desired activities
        of units 0..k-1 (k <= n_hidden; k = n_hidden teaches every unit), and
        must lie in the activation's range (tanh: [-1, 1], relu: >= 0).
        ``RNNClassifier`` raises a ValueError in fit for False (its
        probabilities need the readout's logits).
    learn_initial_state : bool, default=False
        False: ``h_{-1}`` is zeros. True: it is a parameter ``h0_`` shared
        by all sequences, started from a small random guess (see Notes) and
        trained like any weight: BPTT carries the loss gradient back to the
        initial state of each training sequence, summed over the mini-batch
        (with truncated BPTT, from the first window only). An
        ``initial_state`` passed to fit/predict/score overrides it at the
        units it sets (all of them, or those of ``initial_state_mask``).
    optimizer : {"adam", "sgd", "adagrad"}, default="adam"
        Update rule (PyTorch's): Adam (beta1=0.9, beta2=0.999, eps=1e-8),
        SGD with ``momentum`` (and ``nesterov``), or Adagrad (eps=1e-10).
    learning_rate : float, default=0.001
        Step size of the optimizer.
    momentum : float in [0, 1), default=0.9
        Momentum of ``optimizer="sgd"``; ignored by the others.
    nesterov : bool, default=False
        Nesterov momentum for ``optimizer="sgd"``.
    alpha : float, default=0.0001
        L2 penalty: the objective of each mini-batch is its mean loss plus
        ``0.5 * alpha * (|W_xh|^2 + |W_hh|^2 + |W_hy|^2)`` (biases and ``h0_``
        are not penalized).
    clip_norm : float or None, default=5.0
        Before each update, all gradients are scaled together so that their
        global L2 norm is at most ``clip_norm`` (Pascanu et al., 2013; 5 is
        char-rnn's value). None turns clipping off.
    batch_size : int, default=32
        Sequences per mini-batch (clipped to the number of training sequences).
    max_epochs : int, default=100
        Maximum number of passes over the training data in ``fit``.
    bptt_steps : int or None, default=None
        Truncated BPTT: train in windows of this many steps, with one update per
        window, carrying each sequence's last hidden state (as a constant, no
        gradient flows through it) into the next window. None: full BPTT over
        the whole sequence.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the sequences, score them after each
        epoch (``validation_scores_``), stop when the score has not improved by
        ``tol`` for ``n_iter_no_change`` epochs, and restore the weights of the
        best epoch.
    validation_fraction : float in (0, 1), default=0.1
        Share of the sequences held out for early stopping.
    tol : float, default=0.0001
        Improvement threshold. Without early stopping, training stops when the
        training loss has not fallen by ``tol`` for ``n_iter_no_change``
        consecutive epochs (scikit-learn's MLP rule).
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    dtype : {"float32", "float64"}, default="float32"
        Computation dtype of the weights and data.
    n_symbols : int or None, default=None
        Vocabulary size V of integer-id inputs. An integer X of shape
        (n_sequences, n_steps) holds ids in 0..V-1 that stand for one-hot rows
        of an (n_sequences, n_steps, V) float X (computed as a row lookup into
        ``W_xh_``, so a large vocabulary costs no one-hot array); then
        ``n_features_in_`` is V. None: V is 1 + the largest id at a true step
        of the first ``fit``. Later ids outside 0..V-1 are a ValueError (ids at
        padded steps, beyond ``lengths``, are ignored). With float X it must
        be None or X's n_features.
    random_state : None, int or numpy.random.Generator, default=None
        Seeds initialization, the validation split and the shuffling of the
        mini-batches; an int makes ``fit`` reproducible bit for bit.
    verbose : int, default=0
        1: one line per epoch (loss, validation score, elapsed time,
        sequences/s); 2: also a progress bar within each epoch. To stdout.
    warm_start : bool, default=False
        Let ``fit`` start from the current weights (fresh optimizer state) and
        extend ``loss_curve_`` and ``n_iter_``.
    n_threads : int or None, default=None
        The most threads the kernels may use in this estimator's methods
        (:func:`fastrnn.threads` around each call). None: the default limit,
        which follows ``FASTRNN_NUM_THREADS``, ``OMP_NUM_THREADS``,
        ``threadpoolctl`` and the inner limits of joblib and dask workers.
        Results do not depend on it.
    autoscale : bool, default=True
        Train on data of about unit size. A fit from scratch measures the
        root mean square r of each input feature (over the true steps) and,
        for a regressor with a readout, of each target column (over the
        taught values); where r is far from 1 (``log2 r`` rounds to an
        integer e outside -2..2: r < 0.18 or r > 5.7), training sees that
        column divided by ``2**e`` (``input_scale_``, ``target_scale_``).
        The initial weights and the optimizer's steps are made for unit-sized
        data: inputs in the thousands saturate tanh from the first step, and
        targets of a few hundredths stop the ``tol`` rule (and meet an L2
        penalty larger than their loss) before anything is learned. The
        fitted weights are those of the unscaled data (the scaled ones
        converted back, exactly: the scales are powers of two), so predict
        and the model's equations do not involve the scales; warm starts and
        ``partial_fit`` keep the scales of the first fit. False: train on the
        data as they are (as scikit-learn's MLP estimators do).
"""

ATTRS_DOC = """
    Attributes
    ----------
    W_xh_, W_hh_, b_ : ndarray (n_features, n_hidden), (n_hidden, n_hidden), (n_hidden,)
        Recurrence weights (``h_t = act(x_t @ W_xh_ + h_{t-1} @ W_hh_ + b_)``);
        of the first layer's forward direction in a stacked or bidirectional
        network, whose further weights are listed in the Notes.
    h0_ : ndarray (n_hidden,)
        Learned initial state; only with ``learn_initial_state=True``.
    W_hy_, b_y_ : ndarray (n_hidden, %(k)s), (%(k)s,)
        Readout ``y_t = h_t @ W_hy_ + b_y_``; absent with ``readout=False``.
        It reads the top layer's output: (top n_hidden x directions, %(k)s).
    n_features_in_ : int
        Features per step of X; for integer ids, the vocabulary size V.
    n_outputs_ : int
        %(n_outputs)s
    loss_curve_ : list of float
        Training objective of each epoch: the mean loss over the epoch's taught
        outputs plus the L2 term at the end of the epoch. It is the objective
        training sees: with ``autoscale``, of the scaled data (a regressor's
        squared errors divided by ``target_scale_**2``), as ``tol`` and
        ``best_loss_`` are.
    validation_scores_ : list of float or None
        Score of the held-out sequences after each epoch (early stopping only).
    best_validation_score_ : float or None
        Best validation score of the last ``fit`` (early stopping only; a
        warm-start fit keeps its own best, whose weights it restores, while
        ``validation_scores_`` goes on from the earlier fits).
    best_loss_ : float or None
        Lowest ``loss_curve_`` value since the last ``fit`` (a warm-start fit
        counts as one; the ``partial_fit`` calls after it count too), without
        early stopping.
    n_iter_ : int
        Number of epochs run (``fit`` and ``partial_fit`` calls add up with
        ``warm_start`` / ``partial_fit``).
    input_scale_ : ndarray of float64 (n_features,)
        The power of two each input feature was divided by in training
        (see ``autoscale``; 1: not scaled). Not used by predict.%(target_scale)s
    last_state_ : ndarray (n_sequences, n_hidden)
        (n_sequences, total units) for a stacked or bidirectional network.
        Set by ``partial_fit`` (``fit`` removes it; not saved by ``save``):
        each sequence's hidden state at its last true step, as training
        computed it (with truncated BPTT, by the window that reached that
        step, before its update). It is the state the next window would have
        started from: ``partial_fit(X2, y2, initial_state=last_state_)`` on
        the continuations X2 of the same sequences trains as one
        ``partial_fit`` on the joined sequences would, window for window,
        when ``bptt_steps`` divides X's steps and the sequences are one
        mini-batch (``batch_size`` >= n_sequences). With several
        mini-batches the updates come in another order (one call takes each
        mini-batch through all its windows before the next). This is how a
        long stream is trained in pieces.%(extra)s

    Notes
    -----
    *Stacked and bidirectional networks.* Layer l in direction d has
    ``W_xh``, ``W_hh``, ``b`` (and with ``learn_initial_state``, ``h0``)
    with the suffix ``_l{l}`` for l > 0 and ``_reverse`` for the backward
    direction, as PyTorch names its weights: ``W_hh_``, ``W_hh_reverse_``,
    ``W_hh_l1_``, ``W_hh_l1_reverse_``, ... Layer l's ``W_xh`` is
    (n_features, H_0) for l = 0, else (H_{l-1} x directions, H_l). The
    network's state is every layer's hidden state in one vector of
    ``sum(n_hidden) x directions`` units, layer by layer and, within a
    layer, forward before backward: ``initial_state`` (n_sequences,
    units), ``initial_state_mask`` (units,), ``start_state``, ``step``'s
    ``state`` and ``last_state_`` use it, so that feeding input through the
    initial state of any subset of units works on every layer; truncated
    BPTT carries every layer's state from window to window. It is PyTorch's
    ``h0`` (layers x directions, n_sequences, H) moved to (n_sequences,
    layers x directions x H). With ``readout=False`` the targets are put on
    the top layer's output units 0..k-1. ``get_weights`` /
    ``from_weights`` take the further arrays by these names (``W_hh_l1=``).

    *Initialization.* ``W_xh_`` and ``W_hy_`` are Glorot-uniform
    (``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``), which keeps the
    variance of the activations and gradients about equal across the layer.
    For tanh, ``W_hh_`` is a random orthogonal matrix (Saxe et al., 2014): all
    its singular values are 1, so at the start the linearized recurrence
    neither amplifies nor shrinks the hidden state or the gradients that BPTT
    sends back through many steps (a spectral radius far above 1 makes them
    explode, far below 1 vanish). For relu, ``W_hh_`` is the identity (the
    IRNN of Le, Jaitly and Hinton, 2015), which makes the network start as an
    integrator of its inputs. Biases and ``b_y_`` start at zero. A learned
    ``h0_`` starts from a small random guess, ``U(-0.1, 0.1)`` for tanh and
    ``U(0, 0.1)`` for relu (in the activation's range), drawn after the other
    weights so that these do not depend on ``learn_initial_state``; a
    symmetric zero start would give every unit the same role at step 0.

    *Initial states.* Each unit of ``h_{-1}`` comes from ``initial_state``
    where it is given (where ``initial_state_mask`` is True, or everywhere
    without a mask), else from ``h0_``, else is 0. BPTT computes the gradient
    w.r.t. each sequence's initial state; ``h0_`` receives its sum over the
    mini-batch at the units that start from ``h0_``, the units set from
    ``initial_state`` pass none.

    *Teaching signals.* Targets may be on the readout or, with
    ``readout=False``, on hidden units 0..k-1 directly (e.g. desired final
    activities, or an attractor: the same pattern at the last K steps).
    ``target_mask`` selects any subset of steps (and, for the regressor, of
    output values) to teach.

    *Stepping.* :meth:`step` advances a fitted model by one step or a chunk
    and returns the new state; stepping through a sequence gives the same
    outputs as :meth:`predict` on the whole of it.

    *Loss.* Each update minimizes the mean loss over the taught outputs of its
    mini-batch (or truncated-BPTT window; for a regressor with a
    ``target_mask``, the mean squared error over its taught values) plus the
    L2 term; padded steps
    (beyond ``lengths``) are never taught. A window without taught outputs
    (e.g. an early window with ``output_steps="last"``) only carries the state.

    *Non-finite values.* If the loss, a gradient or an updated weight is not
    finite, training stops with :class:`NonFiniteLossError` and the estimator
    keeps its last finite weights.
"""
