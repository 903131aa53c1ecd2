"""Text classification and routing of appeals (jieba + scikit-learn)."""
