"""Feed-forward style networks (Johnson, Alahi and Fei-Fei 2016): train once per style, then stylise
any photo in one forward pass; export to ONNX.

``network`` the image transformation network, ``data`` the photo folder, ``trainer`` the training
loop, ``model_file`` the safetensors file, ``apply`` stylising, ``onnx_export`` ONNX export and engine.
"""
