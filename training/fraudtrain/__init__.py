"""fraudtrain: trains the fraud model on the feature table the Go code writes.

Modules: data (the table), protocol (the handbook's train/delay/test split), metrics (AUC ROC,
average precision, Card Precision@k), models (LightGBM and the two comparison families), export
(the model bundle and the vectors the Go tests read), tables (runs the Go table command), train
(the `make train` pipeline).
"""
