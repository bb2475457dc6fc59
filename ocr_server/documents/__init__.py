"""Documents in: PDF pages rasterised by PDFium in a bounded child process, and multi-page TIFF.

Kept free of heavy imports: the renderer child process imports this package too.
"""
