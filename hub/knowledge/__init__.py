"""The knowledge base (知识库): articles operators answer callers with directly."""
