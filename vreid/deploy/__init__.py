"""Using a trained model after training: embed images, save and search galleries, export to ONNX."""
from vreid.deploy.embedder import Embedder
from vreid.deploy.feature_file import FeatureFile, load_features, save_features
from vreid.deploy.gallery import ExactGallery, Hit, SavedGallery, hits_table
from vreid.deploy.gallery_index import GalleryIndex, load_index, open_gallery
from vreid.deploy.images import ImageEntry, image_loader, read_inputs
from vreid.deploy.onnx_export import build_graph, export_onnx
from vreid.deploy.provenance import Provenance, Rows

__all__ = ["Embedder", "FeatureFile", "load_features", "save_features", "ExactGallery", "Hit", "SavedGallery",
           "hits_table", "GalleryIndex", "load_index", "open_gallery", "ImageEntry", "image_loader", "read_inputs",
           "build_graph", "export_onnx", "Provenance", "Rows"]
