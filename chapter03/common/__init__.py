"""Chapter 3's machinery, shared by both trees. Students do not need to change anything here.

- tasks.py                the task table: which classes students write, handout sections, points
- checks.py               the checks of Linear, ReLU, the loss and MLP; activation_checks.py: Sigmoid and Softmax
- cli.py                  main.py's command line: its flags (in both languages), the command that resumes a run
- run.py                  the steps of main.py's recipe: checks, data, the lines a run prints, early stops
- diagnose.py             a run that does not learn: which layer, or the learning rate
- train.py                the SGD optimizer, one epoch, evaluation
- checkpoint.py           model.npz: its format, save, load, rebuild the network; ModelFolder, where a run saves
- data.py                 find, verify and load MNIST; download.py fetches it; verify.py checks its SHA-256
- plots.py                loss curves, confusion matrix, the digits the network got most wrong
- digit_image.py          turn a drawing into a 28x28 MNIST-like input
- canvas.py               the drawing window of handwriting_canvas.py
"""
