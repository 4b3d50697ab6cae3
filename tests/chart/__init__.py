"""Tests of the Helm chart, the images and the skaffold configuration."""
