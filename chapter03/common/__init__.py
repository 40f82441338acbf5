"""The machinery both trees share. Students do not need to change anything here.

- cli.py          the command line of main.py: checks, then data, then training, then the test
- checks.py       the correctness checks of the layers in model.py (also used by grade.py and the tests)
- data.py         download, verify and load MNIST
- train.py        the training loop and the SGD optimizer
- checkpoint.py   model.npz: save, load, rebuild the network
- plots.py        loss curves, confusion matrix, the digits the network got most wrong
- digit_image.py  turn a drawing into a 28x28 MNIST-like input
- canvas.py       the drawing window of handwriting_canvas.py
- student_code.py import a model.py by path and explain errors raised inside it
- errors.py       KitError: a failure explained in plain words
"""
